"""The area a store serves: declared in its pack, and learned from where its own payers are from."""
