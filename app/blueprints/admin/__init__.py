"""The admin blueprint: platform settings only admins may change."""
