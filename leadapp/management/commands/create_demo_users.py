from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from leadapp import roles

DEMO_PASSWORD = "leadapp-demo"  # noqa: S105 - demo logins only; printed by ./start
DEMO_USERS = [
    # username, first name, last name, role
    ("marketer", "Maria", "Marketer", roles.MARKETING),
    ("sdr", "Sam", "Seller", roles.SALES),
    ("sdr2", "Sasha", "Seller", roles.SALES),
    ("manager", "Morgan", "Manager", roles.MANAGER),
    ("admin", "Alex", "Admin", roles.ADMIN),
]


class Command(BaseCommand):
    help = "Create one demo login per role (for the demo set-up only; never run it in production)."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
            user.is_staff = role == roles.ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=role)])
        width = max(len(u[0]) for u in DEMO_USERS)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, _, _, role in DEMO_USERS:
            self.stdout.write(f"  {username.ljust(width)}  {role}")
