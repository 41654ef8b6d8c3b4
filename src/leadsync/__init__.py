"""leadsync: two-way lead sync between the DomIQ leasing chatbot and ResMan Lead Management."""

__version__ = "0.1.0"
