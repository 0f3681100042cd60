"""Answers about one data subject: the disclosure report of the ARCO access right."""
