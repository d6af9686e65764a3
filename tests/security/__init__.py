"""Attacks on MotID, written from the attacker's side (issue 11): each test failed before its fix."""
