"""Kerbside's domain: zones, bays, accounts, reservations, occupancy and their rules.

Nothing in here knows HTTP, MQTT or schedulers; adapters call these services.
"""
