"""店小二 — drafts grounded replies and compliant push copy for WeChat and Weibo merchants."""

__version__ = "0.1.0"
