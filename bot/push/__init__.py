"""Push copy for WeChat and Weibo: personalised drafts that pass the checker and the caps."""
