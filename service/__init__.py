"""crisis-facts: curated, cited facts about crises, served as a versioned REST API."""

__version__ = "1.0.0"
