from django.http import HttpResponse
from django.urls import include, path
from wagtail.admin import urls as wagtailadmin_urls


def empty(request):
    """A near-empty view: it never looks at the user."""
    return HttpResponse("ok")


def hello(request):
    """A near-empty view that does look at the user."""
    return HttpResponse(f"hello {request.user.get_username()}")


urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("bench/empty/", empty),
    path("bench/hello/", hello),
]
