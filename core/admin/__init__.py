"""The admin API's domain.

The collection mechanism (paging, search, sort, CRUD) and the admin rules for identity and
messaging resources.
"""
