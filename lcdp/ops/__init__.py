"""Operations: the platform as running services on one machine (``lcdp up``/``down``/``ps``)."""
