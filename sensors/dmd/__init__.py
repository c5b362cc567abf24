"""Driver Monitoring Dataset (DMD) layout: OpenLABEL annotations beside face-camera videos."""
