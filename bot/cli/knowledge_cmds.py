"""`dianxiaoer index` and `dianxiaoer search`."""
