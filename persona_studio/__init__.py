"""Persona Studio: craft structured LLM personas for small local models."""

__version__ = "0.1.0"
