"""Closing the loop: failing checks become tickets and fixes, within limits people set."""
