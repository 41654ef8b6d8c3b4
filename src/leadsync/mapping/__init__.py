"""Pure DomIQ <-> ResMan transforms: no I/O, no clock, no database.

Everything here takes plain values and returns plain values so that the push/pull code can
be tested through the sandbox and the transforms themselves with hypothesis.
"""
