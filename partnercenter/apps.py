from django.apps import AppConfig


class PartnercenterConfig(AppConfig):
    name = "partnercenter"

    def ready(self):
        # Sign-in signal receivers: the second step and the idle-session clock start at login.
        from partnercenter import signin, two_step  # noqa: F401
