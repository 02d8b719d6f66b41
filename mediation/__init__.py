"""The domain core of tiaojie: regions, organisations, disputes and their lifecycle."""
