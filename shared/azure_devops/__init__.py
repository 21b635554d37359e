"""Azure DevOps: every call we make to it (``client``, ``paths``) and every name it spells
(``fields``, ``identity``, ``hooks`` for service-hook events, ``shapes`` for REST answers)."""
