"""`relay run` as a process: its threads and queue, the pipeline and booster stages, the service side."""
