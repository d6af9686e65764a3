"""Authlib grants with MotID's storage and its stricter defaults."""
