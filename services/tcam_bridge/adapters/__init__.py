"""Edges: Kafka client configuration, the embedded broker, files, logging."""
