"""The pure core of TCAM Bridge: functions over typed domain objects, no I/O."""
