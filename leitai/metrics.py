"""What every leitai process counts, in Prometheus terms (served on the ops port, leitai/ops.py).

One module holds every metric, so that names and labels are decided once and a dashboard or
an alert has one place to look. Labels are bounded: event types, queue names, routes,
channels and status codes, never ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter("leitai_events_appended", "Events appended to this service's log", ["type"])
EVENTS_RELAYED = Counter("leitai_events_relayed", "Events the relay published and the broker confirmed", ["type"])
EVENTS_CONSUMED = Counter(
    "leitai_events_consumed",
    "Events a consumer handled, by outcome (applied, retried, dead_lettered)",
    ["queue", "type", "outcome"],
)
HANDLER_SECONDS = Histogram("leitai_handler_seconds", "Time an event handler took", ["queue"])
DEAD_LETTERED = Counter("leitai_dead_lettered", "Messages a consumer sent to its dead-letter queue", ["queue"])
RELAY_LAG_POSITIONS = Gauge("leitai_relay_lag_positions", "Sequenced events the relay has not yet had confirmed")
RELAY_LAG_SECONDS = Gauge("leitai_relay_lag_seconds", "Age of the oldest event the relay has not yet had confirmed")
RELAY_LEADER = Gauge("leitai_relay_leader", "1 while this relay holds the sequencer's lease, 0 as a standby")
QUEUE_MESSAGES = Gauge(
    "leitai_queue_messages",
    "Messages waiting in a subscriber's queue or its dead-letter queue "
    "(kind: consumer, dead_letter), as the relay last saw them",
    ["queue", "kind"],
)
QUEUE_CONSUMERS = Gauge(
    "leitai_queue_consumers", "Consumers on a subscriber's queue, as the relay last saw them", ["queue"]
)
NOTICES = Counter("leitai_notices", "Notice deliveries by channel and outcome", ["channel", "status"])
GATEWAY_REQUESTS = Counter("leitai_gateway_requests", "HTTP requests by route and status", ["route", "status"])
GATEWAY_SECONDS = Histogram("leitai_gateway_request_seconds", "HTTP request latency by route", ["route"])
GATEWAY_LIVE_STREAMS = Gauge("leitai_gateway_live_streams", "Live (big-screen) streams open in this gateway")
GATEWAY_LIVE_BOARDS = Gauge(
    "leitai_gateway_live_boards", "Stages this gateway polls for its live streams: one poller each, however many watch"
)
