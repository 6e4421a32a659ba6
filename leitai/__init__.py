"""leitai (擂台): event-sourced services for multi-stage performance contests."""
