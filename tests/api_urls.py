"""A small Django REST framework API for the tests of credentials outside the session (SEC-48, SEC-49)."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from wagtail_company_mfa.rest import BasicAuthentication, obtain_auth_token


class WhoAmI(APIView):
    """Who the request acts as, for signed-in users only; authenticated by the configured default classes."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.get_username()})


class BasicOnlyWhoAmI(WhoAmI):
    """The same, with HTTP Basic as the only (so the first) class: DRF then answers 401, not 403."""

    authentication_classes = [BasicAuthentication]


urlpatterns = [
    path("basic/whoami/", BasicOnlyWhoAmI.as_view(), name="api_basic_whoami"),
    path("whoami/", WhoAmI.as_view(), name="api_whoami"),
    path("token/", obtain_auth_token, name="api_token_auth"),
]
