"""WeCom (企业微信) callbacks: their crypto, their messages, and what they mean in yutang's terms."""
