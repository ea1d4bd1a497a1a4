"""Where outgoing HTTP (merchant webhooks) may go: the operator's allow-list, enforced at connect time."""
