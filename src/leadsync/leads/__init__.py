"""The DomIQ side: lead schemas, the service that accepts leads, its repository and routes."""
