//! WeeChat (`weechat-headless`) as a client: not written yet.
