"""Fixtures of the model tests (helpers live in model_frames.py)."""
from __future__ import annotations

import pytest
from model_frames import small_config

from perception.config import Config


@pytest.fixture
def config() -> Config:
    return small_config()
