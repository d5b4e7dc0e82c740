"""A middleware that reads the user before any view runs, as many site middlewares do."""


class UserHeaderMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        seen = user.get_username() if user.is_authenticated else "anonymous"
        response = self.get_response(request)
        response["X-Seen-User"] = seen
        return response
