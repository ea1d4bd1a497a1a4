"""The WeCom callback receiver: ``/v1/wecom/{tenant}/callback``."""
