"""MCQ Test Analytics: hourly fact tables from a multiple-choice-test platform's PostgreSQL."""

__version__ = "0.1.0"
