"""The web console at ``/console``: people (not client systems) sign in as themselves and
work through server-rendered pages in Spanish or English.

``web`` is what every area of the console builds on (the signed-in person, CSRF-checked
forms, rendering, audit events naming the person); ``routes`` holds sign-in, sign-out,
the home page and the language switch; ``service`` the accounts, passwords, lockout and
sessions; ``repository`` every statement on their tables.
"""
