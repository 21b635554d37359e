"""Azure Table Storage and the queues: every table, column and row key, and one writer per kind
of row. ``storage`` holds the clients and ``storage_errors``, the one translator of storage
failures; ``keys`` the row-key grammar; ``records`` the rows as typed records."""
