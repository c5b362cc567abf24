"""nuScenes v1.0 layout: writer (:mod:`.writer`) and reader (:mod:`.reader`) of :class:`sensors.Frame`."""
