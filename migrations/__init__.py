"""Piccolo migrations for the whole tiaojie schema (one app, one folder)."""
