"""ResMan -> DomIQ by polling: plan windows, pull pages, the scheduler, the pull API."""
