"""The disputes blueprint: buyers' claims and sellers' answers (support works in the dispute
centre)."""
