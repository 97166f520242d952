"""Triggers: async waiting in the triggerer for the deferrable sensors and operators."""
