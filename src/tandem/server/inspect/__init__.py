"""``tandem inspect``: a live web page of a conversation beside a chat pane."""
