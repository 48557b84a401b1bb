"""Input channels of the project (loaded by Rasa from ``credentials.yml``; Python 3.10)."""
