"""The province's e-government readiness: dated unit facts (ISO 9001, online meeting room, document exchange axis,
national portal connection, public administration center, electronic certified copies, the unit's existence),
the feeds of documents exchanged between units and of online meeting sessions, and the report's "x of y" answers."""
