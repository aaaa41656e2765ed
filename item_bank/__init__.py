"""item_bank."""
