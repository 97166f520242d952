"""Moving bytes between local files and objects: parallel multipart upload with stateless
resume, parallel ranged download with atomic finish, server-side multipart copy."""
