from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from testapp import views as testapp_views
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.documents import urls as wagtaildocs_urls

api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PagesAPIViewSet)

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("api/v2/", api_router.urls),
    path("api/account/", testapp_views.AccountAPIView.as_view(), name="testapp_account_api"),
    # Under MEDIA_URL, like a site's protected media: a login_required view and Django's file server.
    path("media/protected/<path:name>", testapp_views.protected_file, name="testapp_protected_file"),
    re_path(r"^media/files/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    path("api/", include("api_urls")),
    path("", include(wagtail_urls)),
]
