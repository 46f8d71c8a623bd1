"""WoodyToys API: our own implementation of the WoodyToys HTTP contract."""
