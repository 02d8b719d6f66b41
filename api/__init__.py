"""HTTP, pages and the command line of tiaojie."""
