"""SMT's JSON API (django-ninja): admin.py under /api/admin/, user.py under /api/user/."""
