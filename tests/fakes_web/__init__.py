"""Fake servers and payload builders for the open-web sources (App Store, Google Play, RSS, Hacker News,
Mastodon, Bluesky). Payloads follow the real APIs' shapes; the real client libraries talk to them on 127.0.0.1.
"""
