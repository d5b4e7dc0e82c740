"""Views a real site has next to Wagtail, for the gate's tests: each one needs a signed-in user."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


@login_required
def protected_file(request, name):
    """A site's protected media, mounted under MEDIA_URL."""
    return HttpResponse(f"protected file {name} for {request.user.get_username()}")


class AccountAPIView(APIView):
    """A session-authenticated JSON API."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.get_username(), "email": request.user.email})
